import { describe, expect, it } from 'vitest';
import { prettyLogs } from './logger.js';

describe('prettyLogs', () => {
  it('is readable text when asked for, or in dev mode on a terminal; JSON otherwise', () => {
    expect(prettyLogs({ logLevel: 'info', logFormat: 'auto', dev: true }, true)).toBe(true);
    expect(prettyLogs({ logLevel: 'info', logFormat: 'auto', dev: true }, false)).toBe(false);
    expect(prettyLogs({ logLevel: 'info', logFormat: 'auto', dev: false }, true)).toBe(false);
    expect(prettyLogs({ logLevel: 'info', logFormat: 'pretty', dev: false }, false)).toBe(true);
    expect(prettyLogs({ logLevel: 'info', logFormat: 'json', dev: true }, true)).toBe(false);
  });
});
