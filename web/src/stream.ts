// The event stream: an EventSource on /v1/events that resumes where it left
// off (the browser sends Last-Event-ID by itself; after a refused connection
// this module reconnects with ?lastEventId=), and reports its state so the
// page can show a connection banner.

export const EVENTS = [
  'hello', 'message', 'invited', 'kicked', 'membersjoined', 'membersleft', 'messagerecall', 'messageupdate',
  'lastdeliveredatupdate', 'lastreadatupdate', 'unreadmessagescountupdate', 'infoupdated', 'presence', 'conflict',
  'reset', 'memberinfoupdated', 'membersmuted', 'membersunmuted', 'membersblocked', 'membersunblocked', 'muted',
  'unmuted', 'blocked', 'unblocked',
];

export type StreamState = 'live' | 'reconnecting' | 'disconnected';

export interface Stream {
  close(): void;
  reconnect(): void;
}

interface Handlers {
  onEvent(name: string, id: string, data: string): void;
  onState(s: StreamState): void;
  onRefused(): void; // the stream closed for good (e.g. 401): check the session
}

export function openStream(token: string, h: Handlers): Stream {
  let es: EventSource | null = null;
  let last = '';
  let timer = 0;
  let closed = false;
  let delay = 1000;

  const connect = () => {
    if (closed) return;
    let url = '/v1/events?token=' + encodeURIComponent(token);
    if (last) url += '&lastEventId=' + encodeURIComponent(last);
    const s = new EventSource(url);
    es = s;
    s.onopen = () => {
      delay = 1000;
      h.onState('live');
    };
    s.onerror = () => {
      if (es !== s || closed) return;
      if (s.readyState === EventSource.CLOSED) {
        h.onState('disconnected');
        h.onRefused();
      } else {
        h.onState('reconnecting');
      }
    };
    for (const name of EVENTS) {
      s.addEventListener(name, (ev) => {
        const m = ev as MessageEvent<string>;
        if (m.lastEventId) last = m.lastEventId;
        h.onEvent(name, m.lastEventId, m.data);
      });
    }
  };

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      es?.close();
    },
    reconnect() {
      if (closed) return;
      es?.close();
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        h.onState('reconnecting');
        connect();
      }, delay);
      delay = Math.min(delay * 2, 15000);
    },
  };
}
