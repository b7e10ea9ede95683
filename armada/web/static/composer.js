// The composer: the "Message" textbox, "Attach" (uploads at once, with a progress bar), "Send", and the
// reply / edit context above them. Enter sends, Shift+Enter starts a new line.

import { describeError } from './api.js';
import { Attachment } from './attachment.js';
import { el, uniqueId } from './dom.js';
import { messageSummary } from './format.js';
import { MentionPicker } from './mentions.js';
import { nameOf } from './store.js';

// Typing: say "typing" on the first keystroke, repeat it while typing goes on (so the other side's safety
// timeout does not clear it), and say "stopped" after this long without a keystroke.
const TYPING_IDLE_MS = 3000;
const TYPING_REPEAT_MS = 3000;

export class Composer {
  /**
   * @param {object} handlers
   * @param {(draft: {content: string, attachment: object|null, replyTo: object|null}) => Promise} handlers.onSend
   * @param {(message: object, content: string, mentions: string[]) => Promise} handlers.onEdit the new text and
   *   the ids of the members it still mentions (they replace the message's)
   * @param {(isTyping: boolean) => void} handlers.onTyping
   * @param {() => object[]} [handlers.members] who `@` offers (the room's members)
   * @param {string} [handlers.label] the textbox's name ("Message" for the room's own composer)
   */
  constructor({ onSend, onEdit, onTyping, members = () => [], label = 'Message' }) {
    this.members = members;
    this.label = label;
    this.onSend = onSend;
    this.onEdit = onEdit;
    this.onTyping = onTyping;
    this.replyTo = null; // the message being answered
    this.editing = null; // the message being edited
    this.typing = false;
    this.lastTypingSent = 0;
    this.idleTimer = null;
    this.build();
  }

  build() {
    const inputId = uniqueId('composer-input');
    this.context = el('div', { class: 'composer-context', hidden: true });
    // "Send" waits for an upload (a click on it waits until it is enabled).
    this.attachment = new Attachment((busy) => {
      this.sendButton.disabled = busy;
    });
    this.error = el('p', { class: 'error', role: 'alert' });
    this.fileInput = el('input', { type: 'file', hidden: true, tabindex: '-1' });
    this.textarea = el('textarea', { id: inputId, rows: 1, placeholder: 'Write a message…', maxlength: 10000 });
    this.attachButton = el('button', { type: 'button', class: 'attach-button' }, 'Attach');
    this.sendButton = el('button', { type: 'submit', class: 'primary send-button' }, 'Send');
    this.element = el(
      'form',
      { class: 'composer', novalidate: true },
      this.context,
      this.attachment.element,
      el(
        'div',
        { class: 'composer-row' },
        this.attachButton,
        this.fileInput,
        el('label', { for: inputId, class: 'visually-hidden' }, this.label),
        this.textarea,
        this.sendButton,
      ),
      this.error,
    );
    this.mentions = new MentionPicker(this.textarea, this.members);
    this.element.prepend(this.mentions.element);

    this.element.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.textarea.addEventListener('keydown', (event) => this.handleKey(event));
    this.textarea.addEventListener('input', () => {
      this.autosize();
      this.noteTyping();
      this.mentions.update();
    });
    this.attachButton.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => {
      const [file] = this.fileInput.files;
      this.fileInput.value = ''; // so choosing the same file again fires `change` again
      if (file) this.attachment.start(file);
    });
  }

  handleKey(event) {
    if (this.mentions.handleKey(event)) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    } else if (event.key === 'Escape' && (this.replyTo || this.editing)) {
      event.preventDefault();
      this.clearContext();
    }
  }

  /** Grow the textarea with its content, up to the CSS max-height. */
  autosize() {
    this.textarea.style.height = 'auto';
    this.textarea.style.height = `${this.textarea.scrollHeight}px`;
  }

  focus() {
    this.textarea.focus();
  }

  // ---- typing -------------------------------------------------------------------------------------------

  noteTyping() {
    if (this.editing) return; // editing an old message is not "typing" to the room
    if (!this.textarea.value) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (!this.typing || now - this.lastTypingSent >= TYPING_REPEAT_MS) {
      this.typing = true;
      this.lastTypingSent = now;
      this.onTyping(true);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typing) return;
    this.typing = false;
    this.onTyping(false);
  }

  // ---- reply and edit context ---------------------------------------------------------------------------

  startReply(message) {
    this.editing = null;
    this.replyTo = message;
    this.showContext(`Replying to ${nameOf(message.sender_id)}`, messageSummary(message), 'Cancel reply');
    this.focus();
  }

  startEdit(message) {
    this.stopTyping();
    this.replyTo = null;
    this.editing = message;
    this.textarea.value = message.content || '';
    this.mentions.seed(message);
    this.autosize();
    this.showContext('Editing message', messageSummary(message), 'Cancel edit');
    this.focus();
  }

  showContext(title, quote, cancelLabel) {
    const cancel = el('button', { type: 'button', class: 'link-button' }, cancelLabel);
    cancel.addEventListener('click', () => this.clearContext());
    this.context.replaceChildren(
      el('div', { class: 'context-text' }, el('strong', {}, title), el('span', { class: 'context-quote' }, quote)),
      cancel,
    );
    this.context.hidden = false;
  }

  clearContext() {
    if (this.editing) {
      this.textarea.value = '';
      this.mentions.reset();
    }
    this.replyTo = null;
    this.editing = null;
    this.context.hidden = true;
    this.context.replaceChildren();
    this.autosize();
  }

  /** A message that changed (edited elsewhere, deleted) may invalidate what the composer refers to. */
  messageChanged(message) {
    if (message.is_deleted && (this.editing?.id === message.id || this.replyTo?.id === message.id)) this.clearContext();
  }

  // ---- sending ------------------------------------------------------------------------------------------

  async submit() {
    if (this.sendButton.disabled) return; // still uploading
    this.error.textContent = '';
    const content = this.textarea.value;
    if (this.editing) {
      await this.submitEdit(content);
      return;
    }
    const attachment = this.attachment.result;
    if (this.attachment.failed) {
      this.error.textContent = 'The attachment did not upload; remove it or choose the file again.';
      return;
    }
    if (!content.trim() && !attachment) return;
    const replyTo = this.replyTo;
    const chosen = new Map(this.mentions.chosen);
    const mentions = this.mentions.idsIn(content);
    // Clear at once so the next message can be typed while this one is on its way; put it back on failure.
    this.stopTyping();
    this.textarea.value = '';
    this.autosize();
    this.clearContext();
    if (attachment) this.attachment.remove();
    this.mentions.reset();
    try {
      await this.onSend({ content: content.trim() ? content : '', attachment, replyTo, mentions });
    } catch (failure) {
      this.error.textContent = describeError(failure);
      if (!this.textarea.value) {
        this.mentions.chosen = chosen;
        this.textarea.value = content;
        this.autosize();
      }
      if (replyTo && !this.replyTo && !this.editing) this.startReply(replyTo);
    }
  }

  async submitEdit(content) {
    const message = this.editing;
    if (!content.trim()) {
      this.error.textContent = 'A message cannot be empty; use Delete to remove it.';
      return;
    }
    try {
      await this.onEdit(message, content, this.mentions.idsIn(content));
      this.clearContext();
    } catch (failure) {
      this.error.textContent = describeError(failure);
    }
  }

  /** Leaving the room: say we stopped typing, abandon an unfinished upload. */
  destroy() {
    this.stopTyping();
    this.attachment.destroy();
  }
}
