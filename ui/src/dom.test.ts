/// <reference types="vite/client" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h } from './dom';

// A minimal document: enough for h(), and it refuses any markup parsing.
class FakeText {
  constructor(public data: string) {}
  get textContent() { return this.data; }
}
class FakeElement {
  childNodes: (FakeElement | FakeText)[] = [];
  attributes = new Map<string, string>();
  listeners: string[] = [];
  constructor(public tagName: string) {}
  appendChild(child: FakeElement | FakeText) { this.childNodes.push(child); return child; }
  setAttribute(name: string, value: string) { this.attributes.set(name, value); }
  addEventListener(type: string) { this.listeners.push(type); }
  get textContent(): string { return this.childNodes.map((c) => c.textContent).join(''); }
  set textContent(value: string) { this.childNodes = [new FakeText(value)]; }
  set innerHTML(_: string) { throw new Error('innerHTML used'); }
  insertAdjacentHTML() { throw new Error('insertAdjacentHTML used'); }
}

const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>&amp;';
const saved = (globalThis as { document?: unknown }).document;

beforeAll(() => {
  (globalThis as { document?: unknown }).document = {
    createElement: (tag: string) => new FakeElement(tag),
    createTextNode: (data: string) => new FakeText(data),
  };
});
afterAll(() => {
  (globalThis as { document?: unknown }).document = saved;
});

describe('h()', () => {
  it('renders hostile strings as text, never as elements', () => {
    const el = h('p', { text: hostile }) as unknown as FakeElement;
    expect(el.textContent).toBe(hostile);
    expect(el.childNodes.every((c) => c instanceof FakeText)).toBe(true);
    const list = h('ul', {}, h('li', {}, hostile, 42, null, false), [hostile]) as unknown as FakeElement;
    const item = list.childNodes[0] as FakeElement;
    expect(item.childNodes.map((c) => (c as FakeText).data)).toEqual([hostile, '42']);
    expect(list.childNodes[1]).toBeInstanceOf(FakeText);
  });

  it('puts hostile strings into attributes verbatim, and never makes an inline handler from a string', () => {
    const el = h('div', { title: hostile, 'data-device-id': hostile, onclick: 'alert(1)' as unknown as () => void, className: 'x', hidden: true, skipped: null }) as unknown as FakeElement;
    expect(el.attributes.get('title')).toBe(hostile);
    expect(el.attributes.get('data-device-id')).toBe(hostile);
    expect(el.attributes.has('onclick')).toBe(false);
    expect(el.attributes.get('class')).toBe('x');
    expect(el.attributes.get('hidden')).toBe('');
    expect(el.attributes.has('skipped')).toBe(false);
    const button = h('button', { onClick: () => {} }) as unknown as FakeElement;
    expect(button.listeners).toEqual(['click']);
  });
});

describe('sources', () => {
  const sources = import.meta.glob(['./**/*.ts', '!./**/*.test.ts'], { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

  it('never parse markup or code from strings, and only api.ts calls invoke', () => {
    expect(Object.keys(sources).length).toBeGreaterThan(10);
    for (const [path, text] of Object.entries(sources)) {
      expect(text, path).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
      if (path !== './api.ts') expect(text, path).not.toMatch(/\binvoke\b|@tauri-apps/);
    }
  });
});
