'use strict';
// leancloud-realtime 5.0.0-rc.8 with server (GET /v1/route), lc.protobuf2.3.
require('./scenario').define({ name: 'leancloud-realtime 5.0.0-rc.8, server via /v1/route, binary', sdk: 'v5', noBinary: false });
