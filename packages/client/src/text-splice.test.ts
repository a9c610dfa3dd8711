import fc from 'fast-check';
import { LoroDoc } from 'loro-crdt';
import { describe, expect, it } from 'vitest';
import { applyTextChange, textSplice } from './text-splice.js';

describe('textSplice', () => {
  it('finds the one edit between two texts', () => {
    expect(textSplice('hello world', 'hello brave world')).toEqual({ index: 6, remove: 0, insert: 'brave ' });
    expect(textSplice('hello world', 'hello')).toEqual({ index: 5, remove: 6, insert: '' });
    expect(textSplice('abc', 'aXc')).toEqual({ index: 1, remove: 1, insert: 'X' });
    expect(textSplice('aaa', 'aaaa')).toEqual({ index: 3, remove: 0, insert: 'a' });
    expect(textSplice('same', 'same')).toBeNull();
    // Never inside a surrogate pair: 😀 is \ud83d\ude00, 😁 is \ud83d\ude01.
    expect(textSplice('a😀b', 'a😁b')).toEqual({ index: 1, remove: 2, insert: '😁' });
  });

  it('turns any text into any other, in a Loro text, by one splice', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const doc = new LoroDoc();
        const text = doc.getText('t');
        text.insert(0, a);
        applyTextChange(text, b);
        expect(text.toString()).toBe(b);
      }),
    );
  });

  it('keeps a concurrent edit elsewhere in the text (a whole-text replace would lose it)', () => {
    const a = new LoroDoc();
    a.getText('t').insert(0, 'hello world');
    a.commit();
    const b = LoroDoc.fromSnapshot(a.export({ mode: 'snapshot' }));
    applyTextChange(a.getText('t'), 'hello world!');
    a.commit();
    applyTextChange(b.getText('t'), 'Oh, hello world');
    b.commit();
    a.import(b.export({ mode: 'update', from: a.oplogVersion() }));
    b.import(a.export({ mode: 'update' }));
    expect(a.getText('t').toString()).toBe('Oh, hello world!');
    expect(b.getText('t').toString()).toBe('Oh, hello world!');
  });
});
