// What is selected on the dashboard (a device for now), shared by the map, the cards and tests.
// select(kind, value) replaces the selection of that kind; onSelect(fn) hears every change.

const selection = {};
const listeners = new Set();

export function getSelection(kind) {
  return selection[kind] ?? null;
}

export function select(kind, value) {
  selection[kind] = value ?? null;
  for (const fn of listeners) fn(kind, selection[kind]);
}

export function clearSelection() {
  for (const kind of Object.keys(selection)) if (selection[kind] !== null) select(kind, null);
}

export function onSelect(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
