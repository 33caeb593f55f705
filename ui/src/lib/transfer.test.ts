import { describe, expect, it } from 'vitest';
import { dataLines, projectLine } from './transfer';

const folder = {
  kind: 'folder' as const,
  source: '/home/marie/datasets/points',
  headline: '2 files, 1.2 MB',
  atLeast: false,
  usdPerMonth: 0.0000277,
  bucketRegion: null,
  sameRegion: false,
};
const s3 = {
  kind: 's3' as const,
  source: 's3://marie-datasets/points/',
  headline: 'at least 10,000 files, 5.4 GB',
  atLeast: true,
  usdPerMonth: null,
  bucketRegion: 'eu-west-3',
  sameRegion: true,
};

describe('what a run sends, stores and reads', () => {
  it('a project', () => {
    expect(projectLine('5 files, 30.8 KB')).toBe(
      '5 files, 30.8 KB — sent once to your bucket; later runs send only the files that changed.',
    );
  });
  it('a folder is sent once and stored', () => {
    expect(dataLines(folder, 'eu-west-3')).toEqual([
      '2 files, 1.2 MB — sent once to your bucket; later runs send only the files that changed.',
      'Keeping it there costs under $0.01/month (S3 Standard storage) until you delete it under Runs → Stored in your bucket.',
    ]);
  });
  it('an S3 location in the run region: read in place, no transfer charge', () => {
    const lines = dataLines(s3, 'eu-west-3');
    expect(lines[0]).toBe(
      'Read in place from s3://marie-datasets/points/ (at least 10,000 files, 5.4 GB: counted no further): nothing is copied or stored by easyTDV.',
    );
    expect(lines[1]).toContain('no data transfer charge');
  });
  it('an S3 location elsewhere: no claim of a free transfer, the refusal said', () => {
    const lines = dataLines({ ...s3, bucketRegion: 'us-west-2', sameRegion: false }, 'eu-west-3');
    expect(lines.join(' ')).not.toContain('no data transfer charge');
    expect(lines[0]).toContain('is in us-west-2, not in eu-west-3 where the run is: the launch will refuse it');
  });
});
