import { describe, expect, it } from 'vitest';
import type { ProjectSummary } from './api';
import { describeProject, folderOf } from './project';

const summary: ProjectSummary = {
  root: '/home/marie/project',
  entry: 'train.py',
  fileCount: 214,
  totalBytes: 1.3e9,
  headline: '214 files, 1.3 GB',
  largest: [
    { path: 'data/big.npy', sizeBytes: 1.2e9, size: '1.2 GB' },
    { path: 'model.py', sizeBytes: 2048, size: '2.0 KB' },
  ],
  warning: '1.2 GB in 1 file: is this data? Put it in the data folder instead, or list it in .easytdvignore so it is not sent as code',
  notes: ['data/link: a link out of the project, not sent'],
  neverSent: ['.git', '.venv'],
  requirements: 'requirements.txt',
};

describe('describeProject', () => {
  it('says what is sent, the largest files, what is never sent and the warning', () => {
    const w = describeProject(summary);
    expect(w.headline).toBe('214 files, 1.3 GB will be sent');
    expect(w.largest).toEqual(['data/big.npy (1.2 GB)', 'model.py (2.0 KB)']);
    expect(w.neverSent).toBe('Never sent: .git, .venv.');
    expect(w.notes).toEqual(['data/link: a link out of the project, not sent']);
    expect(w.warning).toMatch(/^1\.2 GB in 1 file: is this data\?/);
  });

  it('a lone script lists no largest files, and nothing left out says nothing', () => {
    const w = describeProject({
      ...summary,
      fileCount: 1,
      headline: '1 file, 2.0 KB',
      largest: [{ path: 'train.py', sizeBytes: 2048, size: '2.0 KB' }],
      neverSent: [],
      notes: [],
      warning: null,
    });
    expect(w.largest).toEqual([]);
    expect(w.neverSent).toBeNull();
    expect(w.warning).toBeNull();
  });
});

describe('folderOf', () => {
  it('drops the file name, on Unix and Windows paths', () => {
    expect(folderOf('/home/me/proj/train.py')).toBe('/home/me/proj');
    expect(folderOf('C:\\Users\\me\\proj\\train.py')).toBe('C:\\Users\\me\\proj');
  });
});
