// The fine-tuning classes as cards, Teachable-Machine style: each shows its
// name, how many images it has (and how many are held back), thumbnails with
// a remove button, and buttons to add files, use the camera, or clear it.
// Images can also be dropped on a card, or pasted while it has the focus.
import type { LabelledSet } from './labels.ts';

export interface CardActions {
  addFiles(label: number, files: File[]): void;
  remove(id: number): void;
  clear(label: number): void;
  webcam(label: number): void;
}

/** Thumbnails shown per card; the count says how many more there are. */
const SHOWN = 40;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Cards for the classes `shown` (indices into `names`). */
export function renderCards(container: HTMLElement, names: readonly string[], shown: readonly number[], set: LabelledSet, actions: CardActions): void {
  const held = new Set(set.split().validation.map((i) => i.id));
  container.replaceChildren(...shown.map((k) => {
    const name = names[k]!;
    const items = set.ofClass(k);
    const heldHere = items.filter((i) => held.has(i.id)).length;
    const count = el('span', { className: 'count' }, `${items.length} image${items.length === 1 ? '' : 's'}${heldHere ? `, ${heldHere} held back` : ''}`);
    const thumbs = el('ul', { className: 'thumbs' }, ...items.slice(-SHOWN).map((item, j) => {
      const n = items.length - Math.min(items.length, SHOWN) + j + 1;
      const remove = el('button', { type: 'button', className: 'remove', textContent: '×', title: 'remove this image' });
      remove.setAttribute('aria-label', `remove image ${n} of ${name}`);
      remove.onclick = () => actions.remove(item.id);
      const img = el('img', { src: item.thumb, alt: `image ${n} of ${name}${held.has(item.id) ? ' (held back)' : ''}` });
      return el('li', { className: held.has(item.id) ? 'held' : '' }, img, remove);
    }));
    const input = el('input', { type: 'file', accept: 'image/*', multiple: true, className: 'visually-hidden' });
    input.setAttribute('aria-label', `add images of ${name}`);
    input.onchange = () => {
      actions.addFiles(k, [...(input.files ?? [])]);
      input.value = '';
    };
    const add = el('button', { type: 'button', textContent: 'Add images' });
    add.onclick = () => input.click();
    const cam = el('button', { type: 'button', textContent: 'Webcam' });
    cam.setAttribute('aria-label', `capture images of ${name} with the camera`);
    cam.onclick = () => actions.webcam(k);
    const clear = el('button', { type: 'button', textContent: 'Clear', disabled: items.length === 0 });
    clear.setAttribute('aria-label', `remove every image of ${name}`);
    clear.onclick = () => actions.clear(k);
    const card = el('section', { className: 'card', tabIndex: 0 }, el('h3', {}, el('span', { className: 'name' }, name), ' ', count), thumbs, el('div', { className: 'actions' }, add, input, cam, clear));
    card.dataset.label = String(k);
    card.setAttribute('aria-label', `class ${name}: ${count.textContent}`);
    card.addEventListener('dragover', (e) => {
      e.preventDefault();
      card.classList.add('over');
    });
    card.addEventListener('dragleave', () => card.classList.remove('over'));
    card.addEventListener('drop', (e) => {
      e.preventDefault();
      card.classList.remove('over');
      actions.addFiles(k, [...(e.dataTransfer?.files ?? [])]);
    });
    return card;
  }));
}
