// "Forward": a dialog listing the user's rooms; choosing one forwards the message there.

import { request } from './api.js';
import { openDialog, showError } from './dialog.js';
import { el, randomId } from './dom.js';
import { roomTitle, sortedRooms } from './store.js';

/** The forward dialog: one button per room; choosing one forwards the message there. */
export function openForwardDialog(message) {
  openDialog('Forward message', ({ close, error }) => {
    const list = el('ul', { class: 'pick-list', 'aria-label': 'Rooms' });
    for (const room of sortedRooms()) {
      const button = el('button', { type: 'button', class: 'pick' }, roomTitle(room));
      button.addEventListener('click', async () => {
        for (const b of list.querySelectorAll('button')) b.disabled = true;
        try {
          // A forward copies the original's content and media on the server; it carries neither itself.
          await request('POST', '/api/chat/messages', {
            body: { room_id: room.id, forwarded_from_id: message.id, client_id: randomId() },
          });
          close();
        } catch (failure) {
          showError(error, failure);
          for (const b of list.querySelectorAll('button')) b.disabled = false;
        }
      });
      list.append(el('li', {}, button));
    }
    const cancel = el('button', { type: 'button', onclick: close }, 'Cancel');
    return el('div', {}, list, el('div', { class: 'actions' }, cancel));
  });
}
