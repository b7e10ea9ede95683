// "Edit history": a dialog listing a message's earlier versions, oldest first, each with the time it was replaced.

import { describeError, fetchAll } from './api.js';
import { openDialog } from './dialog.js';
import { el } from './dom.js';

/** Open the dialog for `message`; the versions load once it shows. */
export function openEditHistory(message) {
  openDialog('Edit history', ({ close, error }) => {
    const list = el('ol', { class: 'edit-history', 'aria-label': 'Earlier versions', 'aria-busy': 'true' });
    const status = el('p', { class: 'muted', role: 'status' }, 'Loading…');
    fetchAll(`/api/chat/messages/${message.id}/history`)
      .then((items) => {
        status.textContent = items.length ? '' : 'No earlier versions.';
        list.replaceChildren(
          ...items.map((item) => {
            const when = new Date(item.edited_at);
            return el(
              'li',
              {},
              el('p', { class: 'edit-text' }, item.content || ''),
              el(
                'p',
                { class: 'muted edit-time' },
                'Replaced ',
                el('time', { datetime: item.edited_at }, when.toLocaleString()),
              ),
            );
          }),
        );
      })
      .catch((failure) => {
        status.textContent = '';
        error.textContent = describeError(failure);
      })
      .finally(() => list.removeAttribute('aria-busy'));
    const current = el('p', { class: 'edit-text' }, message.content || '');
    return el(
      'div',
      {},
      el('h3', {}, 'Now'),
      current,
      el('h3', {}, 'Before'),
      status,
      list,
      el('div', { class: 'actions' }, el('button', { type: 'button', onclick: close }, 'Close')),
    );
  });
}
