// Formatting of dates, sizes and one-line message summaries, in the browser's own locale.

const DAY_MS = 24 * 60 * 60 * 1000;

/** A local calendar day as 'YYYY-MM-DD', the key that groups messages under one day separator. */
export function dayKey(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "Today", "Yesterday", or the full local date. */
export function dayLabel(date) {
  const today = new Date();
  if (dayKey(date) === dayKey(today)) return 'Today';
  if (dayKey(date) === dayKey(new Date(today.getTime() - DAY_MS))) return 'Yesterday';
  return date.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

/** Hours and minutes, for a message's timestamp. */
export function timeLabel(date) {
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** The room list's short time: the time for today, else the date. */
export function shortTimeLabel(date) {
  if (dayKey(date) === dayKey(new Date())) return timeLabel(date);
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** A byte count for people: "12 KB", "3.4 MB". */
export function fileSize(bytes) {
  if (typeof bytes !== 'number') return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const MEDIA_LABELS = { image: 'Photo', video: 'Video', audio: 'Audio', file: 'File' };

/** One line describing a message or a reply preview, for the room list and quoted replies. */
export function messageSummary(message) {
  if (!message) return '';
  if (message.is_deleted) return 'Message deleted';
  if (message.message_type === 'text' || !message.message_type) return message.content || '';
  const label = MEDIA_LABELS[message.message_type] || MEDIA_LABELS.file;
  const detail = message.content || message.media_filename;
  return detail ? `${label}: ${detail}` : label;
}
