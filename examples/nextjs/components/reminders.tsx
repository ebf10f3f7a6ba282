"use client";

import type { Reminder } from "@/lib/live";
import { formatDue } from "@/lib/tasks";

/** Whether the browser shows this page's notifications; false where it has none. */
export function notificationsAllowed(): boolean {
  return typeof Notification !== "undefined" && Notification.permission === "granted";
}

/** A browser notification for a reminder. Its tag is the reminder's, so the same reminder seen
 * by several tabs is one notification. */
export function notify(reminder: Reminder): void {
  new Notification(`Reminder: ${reminder.title}`, {
    tag: `reminder-${reminder.key}`,
    ...(reminder.due ? { body: `Due ${formatDue(reminder.due)}` } : {}),
  });
}

/** The reminders that fired while notifications are not allowed, each until dismissed; and,
 * while the browser has not been asked yet, a button to allow them (asking needs a click). */
export function Reminders({
  reminders,
  dismiss,
  allowNotifications,
}: {
  reminders: Reminder[];
  dismiss: (reminder: Reminder) => void;
  allowNotifications: (() => void) | null;
}) {
  if (reminders.length === 0) return null;
  return (
    <section className="reminders" aria-label="Reminders">
      {reminders.map((reminder) => (
        <div key={reminder.key} className="reminder" role="alert" data-testid="reminder">
          <span>
            Reminder: <strong>{reminder.title}</strong>
            {reminder.due && ` (due ${formatDue(reminder.due)})`}
          </span>
          <button type="button" aria-label={`Dismiss reminder ${reminder.title}`} onClick={() => dismiss(reminder)}>
            Dismiss
          </button>
        </div>
      ))}
      {allowNotifications && (
        <button type="button" className="allow" onClick={allowNotifications}>
          Show reminders as notifications
        </button>
      )}
    </section>
  );
}
