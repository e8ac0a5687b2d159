'use strict';
// leancloud-realtime 5.0.0-rc.8 with server (GET /v1/route) and noBinary:
// lc.proto2base64.3.
require('./scenario').define({ name: 'leancloud-realtime 5.0.0-rc.8, server via /v1/route, noBinary', sdk: 'v5', noBinary: true });
