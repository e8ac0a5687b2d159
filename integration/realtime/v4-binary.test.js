'use strict';
// leancloud-realtime 4.3.1 with RTMServers, lc.protobuf2.3 (binary frames).
require('./scenario').define({ name: 'leancloud-realtime 4.3.1, RTMServers, binary', sdk: 'v4', noBinary: false, allow: require('./v4-allow') });
