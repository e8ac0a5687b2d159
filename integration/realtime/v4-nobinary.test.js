'use strict';
// leancloud-realtime 4.3.1 with RTMServers and noBinary: lc.proto2base64.3.
require('./scenario').define({ name: 'leancloud-realtime 4.3.1, RTMServers, noBinary', sdk: 'v4', noBinary: true, allow: require('./v4-allow') });
