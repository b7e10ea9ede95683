// A modal dialog: built when opened and removed when closed, so its fields exist on the page only while it is open.
// The dialogs themselves: new-room-dialogs.js, forward-dialog.js, room-settings-dialog.js, edit-history.js.

import { describeError } from './api.js';
import { el, uniqueId } from './dom.js';

/**
 * Open a modal <dialog> titled `title`; `build({close, error})` returns its content. `error` is a role=alert
 * paragraph for inline API errors. Returns {dialog, close}.
 */
export function openDialog(title, build) {
  const titleId = uniqueId('dialog-title');
  const error = el('p', { class: 'error', role: 'alert' });
  const dialog = el('dialog', { 'aria-labelledby': titleId, class: 'dialog' });
  const close = () => {
    if (dialog.open) dialog.close();
  };
  // The page behind a modal dialog is inert. Make its composer read-only too, so nothing (a script, a test
  // robot) can type into a conversation that is about to be replaced by the room this dialog opens.
  const composers = [...document.querySelectorAll('.composer textarea')];
  for (const textarea of composers) textarea.readOnly = true;
  dialog.addEventListener('close', () => {
    for (const textarea of composers) textarea.readOnly = false;
    dialog.remove();
  });
  dialog.append(el('h2', { id: titleId }, title), build({ close, error }), error);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** Show a failure in a dialog's alert line. */
export function showError(error, failure) {
  error.textContent = describeError(failure);
}
