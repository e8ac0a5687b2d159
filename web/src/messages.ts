// How messages look: previews for the conversation list and bodies for the
// chat. Every type the API has is shown; unknown (application) types are
// shown generically with their fields.
import type { Message } from './client';
import { el, size } from './dom';

export const TYPING = 'typing'; // fields key of the transient typing notice

export function isTyping(m: Message): boolean {
  return !!m.transient && !!m.fields && m.fields[TYPING] === true;
}

// preview is one line of text describing a message.
export function preview(m: Message): string {
  if (m.recalled) return 'Message recalled';
  switch (m.type) {
    case -1:
      return m.text || '';
    case -2:
      return 'Image' + (m.text ? ': ' + m.text : '');
    case -3:
      return 'Audio';
    case -4:
      return 'Video';
    case -5:
      return 'Location';
    case -6:
      return 'File: ' + (m.file?.name || 'file');
    case undefined:
    case null:
      return m.data || '';
    default:
      return 'Custom message (type ' + m.type + ')';
  }
}

// A file url is shown only when it is a same-origin path or http(s).
function safeURL(u: string | undefined): string | null {
  if (!u) return null;
  if (u.startsWith('/') && !u.startsWith('//')) return u;
  return /^https?:\/\//i.test(u) ? u : null;
}

const sameOrigin = (u: string) => u.startsWith('/') || u.startsWith(location.origin + '/');

export function body(m: Message, onMedia: () => void): HTMLElement {
  const box = el('div', { class: 'body' });
  if (m.recalled) {
    box.append(el('span', { class: 'recalled-text', text: 'This message was recalled.' }));
    return box;
  }
  const f = m.file;
  const url = safeURL(f?.url);
  switch (m.type) {
    case -1:
      box.append(el('p', { class: 'text', text: m.text || '' }));
      break;
    case -2: {
      if (url && sameOrigin(url)) {
        const img = el('img', { src: url, alt: f?.name || 'image', loading: 'lazy', class: 'preview' });
        img.addEventListener('load', onMedia, { once: true });
        box.append(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'media' }, img));
      } else if (url) {
        box.append(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: 'Image: ' + (f?.name || url) }));
      }
      if (m.text) box.append(el('p', { class: 'text', text: m.text }));
      break;
    }
    case -3:
    case -4:
      if (url && sameOrigin(url)) box.append(el(m.type === -3 ? 'audio' : 'video', { src: url, controls: true, preload: 'metadata', class: 'media' }));
      if (url) box.append(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: f?.name || url }));
      if (m.text) box.append(el('p', { class: 'text', text: m.text }));
      break;
    case -6:
      box.append(
        el('a', { class: 'file', href: url || undefined, target: '_blank', rel: 'noopener noreferrer', download: f?.name || true },
          el('span', { class: 'file-icon', 'aria-hidden': 'true', text: 'FILE' }),
          el('span', { class: 'file-name', text: f?.name || 'file' }),
          f?.size ? el('span', { class: 'file-size', text: size(f.size) }) : null),
      );
      if (m.text) box.append(el('p', { class: 'text', text: m.text }));
      break;
    case -5: {
      const { latitude: la, longitude: lo } = m.location || { latitude: 0, longitude: 0 };
      box.append(
        el('p', { class: 'text', text: 'Location ' + la.toFixed(5) + ', ' + lo.toFixed(5) + (m.text ? ' — ' + m.text : '') }),
        el('a', {
          href: 'https://www.openstreetmap.org/?mlat=' + la + '&mlon=' + lo + '#map=15/' + la + '/' + lo,
          target: '_blank', rel: 'noopener noreferrer', text: 'Open map',
        }),
      );
      break;
    }
    case undefined:
    case null:
      box.append(el('p', { class: 'text', text: m.data || '' }), el('span', { class: 'kind', text: 'untyped message' }));
      break;
    default:
      box.append(
        el('span', { class: 'kind', text: 'Custom message · type ' + m.type }),
        m.text ? el('p', { class: 'text', text: m.text }) : '',
        el('pre', { class: 'fields', text: JSON.stringify(m.fields || {}, null, 2) }),
      );
  }
  if (m.attributes && Object.keys(m.attributes).length) {
    box.append(el('pre', { class: 'fields', text: 'attributes ' + JSON.stringify(m.attributes) }));
  }
  return box;
}
