// What every part of the page shares: element lookup, the bundle's URLs,
// and the error box.
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
export const params = new URLSearchParams(location.search);
export const base = new URL('./', location.href).href;
export const modelBase = `${base}model/`;

export function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

export function clearError(): void {
  $('error').hidden = true;
}

/** A newer image was chosen while this one was decoding: its result is not shown. */
export class Superseded extends Error {}
