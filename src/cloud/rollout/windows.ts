/**
 * Maintenance windows: the hours, in a time zone, in which new orders may go out. Local time is
 * read with `Intl.DateTimeFormat` (Node and browsers), so a window follows its zone's daylight
 * saving time.
 *
 * @module
 */
import type { MaintenanceWindow } from './plan.js';

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Day of the week (0 = Sunday) and minute of the day at `now` in `timeZone`. */
export function localTime(now: number, timeZone: string): { day: number; minute: number } {
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function inWindow(window: MaintenanceWindow, now: number): boolean {
  const { day, minute } = localTime(now, window.timeZone ?? 'UTC');
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const onDay = (d: number) => window.days === undefined || window.days.includes(d);
  if (start < end) return onDay(day) && minute >= start && minute < end;
  // Past midnight: the evening part belongs to its day, the morning part to the day before.
  return (onDay(day) && minute >= start) || (onDay((day + 6) % 7) && minute < end);
}

/** Whether new orders may go out at `now` (always, without windows). */
export function windowOpen(windows: readonly MaintenanceWindow[], now: number): boolean {
  return windows.length === 0 || windows.some((window) => inWindow(window, now));
}

/**
 * When a window next opens (epoch ms, to the minute), or `null` when none opens within 8 days.
 * Walks minute boundaries in steps of 15 minutes, then refines to the minute: windows are given in
 * whole minutes, and a zone's offset may change between now and then.
 */
export function nextOpening(windows: readonly MaintenanceWindow[], now: number): number | null {
  if (windowOpen(windows, now)) return now;
  const minute = 60_000;
  const start = Math.ceil(now / minute) * minute;
  for (let at = start; at <= now + 8 * 24 * 60 * minute; at += 15 * minute) {
    if (!windowOpen(windows, at)) continue;
    let first = at;
    for (let back = at - minute; back > at - 15 * minute && back >= start; back -= minute) {
      if (!windowOpen(windows, back)) break;
      first = back;
    }
    return first;
  }
  return null;
}
