// A tiny DOM helper: text always goes in as textContent, never as markup.

type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

/** Creates an element; `on*` attributes become listeners, `true` makes a bare attribute, null/false skip it. */
export function h(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (/^on/i.test(key)) continue; // never an inline handler from a string
    else if (key === 'text') el.textContent = String(value);
    else el.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Which element has the focus, as something that survives a re-render (id, or data-device-id with class). */
function focusKey(): string | null {
  const el = document.activeElement as HTMLElement | null;
  if (!el || el === document.body) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  const device = el.getAttribute('data-device-id');
  const cls = el.classList[0];
  if (device !== null && cls) return `.${CSS.escape(cls)}[data-device-id="${CSS.escape(device)}"]`;
  return null;
}

/** Replaces the children of `parent`, giving the focus back to the same control if it is still there. */
export function replace(parent: Element, ...children: (Child | Child[])[]): void {
  const key = parent.contains(document.activeElement) ? focusKey() : null;
  parent.replaceChildren();
  append(parent as HTMLElement, children);
  if (key) (parent.querySelector(key) as HTMLElement | null)?.focus();
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id;
  return h('div', { className: 'field' }, h('label', { for: id, text: label }), input, hint ? h('p', { className: 'hint', text: hint }) : null);
}

/** A button that shows "busy" and disables itself while `action` runs. */
export function actionButton(attrs: Attrs, label: string, action: () => Promise<void>): HTMLButtonElement {
  const button = h('button', { type: 'button', ...attrs }, label) as HTMLButtonElement;
  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    try {
      await action();
    } finally {
      button.removeAttribute('aria-busy');
    }
  });
  return button;
}

const signatures = new WeakMap<Element, string>();

/** Re-renders `parent` only when `signature` changed (so a stream of events does not rebuild unchanged controls). */
export function update(parent: Element, signature: unknown, render: () => Child | Child[]): void {
  const sig = JSON.stringify(signature);
  if (signatures.get(parent) === sig) return;
  signatures.set(parent, sig);
  replace(parent, render());
}

/** A node built once per key and rebuilt only when its signature changes. */
export function keyed(cache: Map<string, { sig: string; node: HTMLElement }>, key: string, signature: unknown, render: () => HTMLElement): HTMLElement {
  const sig = JSON.stringify(signature);
  const hit = cache.get(key);
  if (hit && hit.sig === sig) return hit.node;
  const node = render();
  const focus = hit?.node.contains(document.activeElement) ? focusKey() : null;
  if (hit) hit.node.replaceWith(node);
  if (focus) (node.querySelector(focus) as HTMLElement | null)?.focus();
  cache.set(key, { sig, node });
  return node;
}

/** Puts `nodes` in `parent` in order, touching the DOM only if the order changed. */
export function sync(parent: Element, nodes: Node[]): void {
  const same = parent.childNodes.length === nodes.length && nodes.every((n, i) => parent.childNodes[i] === n);
  if (!same) parent.replaceChildren(...nodes);
}
