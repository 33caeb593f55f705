import { describe, expect, it } from 'vitest';
import { downloadProgressText, downloadResultText, entryName, executedNotebookName, progressFraction, timeLeftText } from './download';

describe('download progress', () => {
  it('counts bytes when their total is known, files otherwise', () => {
    expect(progressFraction({ filesDone: 1, filesTotal: 4, bytesDone: 50, bytesTotal: 200 })).toBe(0.25);
    expect(progressFraction({ filesDone: 1, filesTotal: 4, bytesDone: null, bytesTotal: null })).toBe(0.25);
    expect(progressFraction({ filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 })).toBeNull();
  });
  it('says files, bytes and the time left', () => {
    expect(
      downloadProgressText({ filesDone: 12, filesTotal: 300, bytesDone: 1024 * 1024, bytesTotal: 10 * 1024 * 1024, secondsLeft: 150 }),
    ).toBe('12 of 300 files · 1.0 MB of 10 MB · about 3 min left');
    expect(downloadProgressText({ filesDone: 0, filesTotal: 0, bytesDone: null, bytesTotal: null, secondsLeft: null })).toBe(
      'Looking for the files…',
    );
  });
  it('time left in plain words', () => {
    expect(timeLeftText(null)).toBeNull();
    expect(timeLeftText(3)).toBe('a few seconds left');
    expect(timeLeftText(42)).toBe('about 40 s left');
    expect(timeLeftText(4800)).toBe('about 1 h 20 min left');
  });
  it('the result names what was already there', () => {
    expect(downloadResultText({ files: 3, skipped: 0, bytes: null })).toBe('Saved 3 files to');
    expect(downloadResultText({ files: 5, skipped: 2, bytes: 2048 })).toBe('Saved 5 files (2 already there), 2.0 KB to');
    expect(downloadResultText({ files: 2, skipped: 2, bytes: 10 })).toBe('All 2 files were already there, complete, in');
  });
});

describe('the executed notebook', () => {
  it('is named after the notebook, for notebook runs only', () => {
    expect(executedNotebookName('/home/marie/Train Model.ipynb')).toBe('Train Model.executed.ipynb');
    expect(executedNotebookName('C:\\Users\\m\\étude.IPYNB')).toBe('étude.executed.ipynb');
    expect(executedNotebookName('/home/marie/train.py')).toBeNull();
    expect(executedNotebookName(null)).toBeNull();
    expect(entryName('/home/marie/train.py')).toBe('train.py');
    expect(entryName(undefined)).toBe('train.py');
  });
});
