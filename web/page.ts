// The deployment page's entry: the app (the classify panel and, on top of
// it, the fine-tuning panel) and the page's controls wired to it.
import { App } from './app.ts';
import { $ } from './dom.ts';

const app = new App();
(globalThis as unknown as { lossgraph: App }).lossgraph = app;

const fileName = (f: File) => f.name || 'the pasted image';
const readFile = async (f: File) => new Uint8Array(await f.arrayBuffer());

$('file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) await app.run(async () => app.classify(await readFile(f), fileName(f)));
});
const drop = $('drop');
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') $('file').click();
});
drop.addEventListener('click', () => $('file').click());
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) await app.run(async () => app.classify(await readFile(f), fileName(f)));
});
// A paste goes to the class card that has the focus, else to the classify panel.
document.addEventListener('paste', async (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (!files.length) return;
  const card = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('.card');
  if (card) await app.run(async () => app.addImages(await Promise.all(files.map(async (f) => ({ bytes: await readFile(f), label: Number(card.dataset.label), name: fileName(f) })))));
  else await app.run(async () => app.classify(await readFile(files[0]!), fileName(files[0]!)));
});
// The class set follows the form as it changes: the radio, and the names as they are typed.
const followForm = () => app.run(async () => app.setClasses(app.classesFromForm()));
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) r.addEventListener('change', () => followForm());
// As names are typed the cards follow (images of a name being retyped are kept); leaving the field settles them.
$('new-classes').addEventListener('input', () => {
  if (app.classesFromForm().mode !== 'new') return;
  // Half-typed names ("cats,") are not an error yet: leaving the field or Start says so.
  try {
    app.setClasses(app.classesFromForm(), { typing: true });
  } catch {
    // the cards keep the last names that made sense
  }
});
$('new-classes').addEventListener('change', () => {
  if (app.classesFromForm().mode === 'new') void followForm();
});
$('loss-spec').addEventListener('change', () => followForm());
$('start').addEventListener('click', () => app.run(async () => {
  app.setClasses(app.classesFromForm());
  return app.finetune({
    steps: Number(($('steps') as HTMLInputElement).value),
    batch: Number(($('batch') as HTMLInputElement).value),
    lr: Number(($('lr') as HTMLInputElement).value),
  });
}));
$('stop').addEventListener('click', () => app.stop());
$('pick-class').addEventListener('change', (e) => {
  const select = e.target as HTMLSelectElement;
  if (select.value !== '') app.pickClass(Number(select.value));
});
$('reset').addEventListener('click', () => app.run(() => app.reset()));
$('download-checkpoint').addEventListener('click', () => app.run(() => app.download('checkpoint')));
$('download-model').addEventListener('click', () => app.run(() => app.download('inference')));
// The capture button: a click takes one frame; held down, a frame every 150 ms until released.
let burst: ReturnType<typeof setInterval> | undefined;
const endBurst = () => {
  clearInterval(burst);
  burst = undefined;
};
$('capture').addEventListener('pointerdown', () => {
  void app.run(async () => app.captureFrame());
  burst = setInterval(() => void app.run(async () => app.captureFrame()), 150);
});
for (const ev of ['pointerup', 'pointerleave', 'pointercancel']) $('capture').addEventListener(ev, endBurst);
$('capture').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') void app.run(async () => app.captureFrame());
});
$('webcam-close').addEventListener('click', () => app.closeWebcam());
