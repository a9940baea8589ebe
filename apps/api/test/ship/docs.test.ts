import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Everything a user reads: the README, docs/ and every package's README. */
function userDocs(): string[] {
  const files = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).map((f) => join(root, 'docs', f))];
  for (const group of ['apps', 'packages']) {
    for (const pkg of readdirSync(join(root, group))) {
      const readme = join(root, group, pkg, 'README.md');
      if (existsSync(readme)) files.push(readme);
    }
  }
  return files.filter((f) => f.endsWith('.md'));
}

describe('project documentation stands alone', () => {
  it('has the wire contract, architecture and operations docs, linked from the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const doc of ['docs/api.md', 'docs/architecture.md', 'docs/operations.md']) {
      expect(existsSync(join(root, doc)), doc).toBe(true);
      expect(readme).toContain(`](${doc})`);
    }
  });

  it('never points outside the repository', () => {
    const docs = userDocs();
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const file of docs) {
      const text = readFileSync(file, 'utf8');
      expect(text, relative(root, file)).not.toMatch(/\.\.\/shared|\/work\//);
      // Every relative Markdown link resolves to a file inside the repository.
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        const abs = resolve(dirname(file), target);
        expect(relative(root, abs).startsWith('..'), `${relative(root, file)} → ${target}`).toBe(false);
        expect(existsSync(abs), `${relative(root, file)} → ${target}`).toBe(true);
      }
    }
  });
});
