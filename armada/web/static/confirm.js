// A confirmation before an action that cannot be undone (delete a message, leave a room, remove a member).
//
// A modal <dialog> with role "alertdialog", named by its question and described by its consequence. Focus starts on
// "Cancel", so a stray Enter does nothing harmful; Escape cancels too. The confirm button names the action.

import { el, uniqueId } from './dom.js';

/**
 * Ask `title` ("Delete this message?"), explaining `detail`; the button `confirmLabel` ("Delete message") confirms.
 * Resolves true if confirmed, false if cancelled (Cancel, Escape). Opens above any dialog already open.
 */
export function confirmAction({ title, detail, confirmLabel }) {
  return new Promise((resolve) => {
    const titleId = uniqueId('confirm-title');
    const detailId = uniqueId('confirm-detail');
    const cancel = el('button', { type: 'button', autofocus: true }, 'Cancel');
    const confirm = el('button', { type: 'button', class: 'danger-primary' }, confirmLabel);
    const dialog = el(
      'dialog',
      { role: 'alertdialog', 'aria-labelledby': titleId, 'aria-describedby': detailId, class: 'dialog confirm' },
      el('h2', { id: titleId }, title),
      el('p', { id: detailId }, detail),
      el('div', { class: 'actions' }, cancel, confirm),
    );
    let confirmed = false;
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', () => {
      confirmed = true;
      dialog.close();
    });
    // Escape fires "cancel" and then "close"; every way out ends here, once.
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
