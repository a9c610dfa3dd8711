import type { AppSchema } from './app-schema.js';
import { ManifestError } from './manifest-error.js';
import { resolveSchema } from './resolve-schema.js';
import { validateManifest } from './validate-manifest.js';

/**
 * Parses and validates a manifest in Pylon's format (plus the `json` field type) and resolves
 * it; throws ManifestError carrying every diagnostic when there is any error (warnings pass).
 */
export function compileManifest(raw: unknown, source?: string): AppSchema {
  const { manifest, diagnostics } = validateManifest(raw);
  if (manifest === null) throw new ManifestError(diagnostics, source);
  return resolveSchema(manifest);
}
