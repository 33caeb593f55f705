// What a run sends and stores, and reads in place, in plain words for the Review step (pure).
import { monthlyText } from './environments';

export interface DataReviewLike {
  kind: 'folder' | 's3';
  source: string;
  headline: string;
  atLeast: boolean;
  usdPerMonth: number | null;
  bucketRegion: string | null;
  sameRegion: boolean;
}

/** The project: "5 files, 30.8 KB — sent once to your bucket; later runs send only the files that changed." */
export function projectLine(headline: string): string {
  return `${headline} — sent once to your bucket; later runs send only the files that changed.`;
}

/** The data's lines: what is sent or read, and what it costs. */
export function dataLines(r: DataReviewLike, runRegion: string): string[] {
  if (r.kind === 'folder') {
    return [
      `${r.headline} — sent once to your bucket; later runs send only the files that changed.`,
      `Keeping it there costs ${monthlyText(r.usdPerMonth)} (S3 Standard storage) until you delete it under Runs → Stored in your bucket.`,
    ];
  }
  if (!r.sameRegion) {
    return [
      `Read in place from ${r.source}, but its bucket is in ${r.bucketRegion ?? 'another region'}, not in ${runRegion} where the run is: the launch will refuse it. Choose the region ${r.bucketRegion ?? 'of the bucket'} on the Machine step, or copy the data to a bucket in ${runRegion}.`,
    ];
  }
  return [
    `Read in place from ${r.source} (${r.headline}${r.atLeast ? ': counted no further' : ''}): nothing is copied or stored by easyTDV.`,
    `Its bucket is in ${r.bucketRegion ?? runRegion}, like the run: reading it from the run's machine has no data transfer charge.`,
  ];
}
