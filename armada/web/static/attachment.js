// The composer's attachment: a file uploaded as soon as it is chosen, with a progress bar and "Remove attachment";
// its upload's answer (stored path, message type) goes with the next message sent.

import { describeError, uploadFile } from './api.js';
import { el } from './dom.js';
import { fileSize } from './format.js';

export class Attachment {
  /** `setBusy(busy)` runs when an upload starts (true) and when it has ended or was removed (false). */
  constructor(setBusy) {
    this.setBusy = setBusy;
    this.upload = null; // {file, handle, result, error}
    this.element = el('div', { class: 'attachment', hidden: true });
  }

  /** The uploaded file, ready to send, or null. */
  get result() {
    return this.upload?.result || null;
  }

  get failed() {
    return Boolean(this.upload?.error);
  }

  start(file) {
    this.remove();
    const bar = el('div', { class: 'progress-fill' });
    const progress = el(
      'div',
      {
        class: 'progress',
        role: 'progressbar',
        'aria-label': `Uploading ${file.name}`,
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': 0,
      },
      bar,
    );
    const status = el('span', { class: 'attachment-status' }, 'Uploading…');
    const remove = el('button', { type: 'button', class: 'link-button' }, 'Remove attachment');
    remove.addEventListener('click', () => this.remove());
    this.element.replaceChildren(
      el(
        'div',
        { class: 'attachment-head' },
        el('span', { class: 'attachment-name' }, file.name, ' ', el('span', { class: 'muted' }, fileSize(file.size))),
        status,
        remove,
      ),
      progress,
    );
    this.element.hidden = false;

    const setProgress = (fraction) => {
      const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
      progress.setAttribute('aria-valuenow', String(percent));
      bar.style.width = `${percent}%`;
    };
    const handle = uploadFile(file, setProgress);
    const upload = { file, handle, result: null, error: null };
    this.upload = upload;
    this.setBusy(true);
    handle.promise.then(
      (result) => {
        if (this.upload !== upload) return;
        upload.result = result;
        // The bar stays, full, until the message is sent: it shows what will go with it.
        setProgress(1);
        status.textContent = 'Uploaded, ready to send';
        this.setBusy(false);
      },
      (failure) => {
        if (this.upload !== upload) return;
        upload.error = failure;
        status.textContent = `Upload failed: ${describeError(failure)}`;
        progress.remove();
        this.setBusy(false);
      },
    );
  }

  remove() {
    if (this.upload && !this.upload.result && !this.upload.error) this.upload.handle.abort();
    this.upload = null;
    this.element.hidden = true;
    this.element.replaceChildren();
    this.setBusy(false);
  }

  /** The composer is going away: abandon an unfinished upload. */
  destroy() {
    if (this.upload && !this.upload.result) this.upload.handle.abort();
  }
}
