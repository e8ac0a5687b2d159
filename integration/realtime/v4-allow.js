'use strict';
// What 4.3.1 may warn about against any server on plain HTTP: it sends its
// REST calls to https://{server}/1.1/… (LEANCLOUD.md §4), so after a
// reconnect its GET /1.1/rtm/notifications cannot reach a plain-HTTP server
// and it warns "Syncing notifications failed" (the SDK goes on without
// them). 5.0.0-rc.8 takes `server` as a full URL: nothing is allowed there.
module.exports = [/^Syncing notifications failed:/];
