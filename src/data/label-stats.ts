/**
 * Label statistics of a multi-label set, counted in one streaming pass: how many images carry each
 * label, labels per image, and the long-tail figures the demo dataset promises (the most common
 * label's share, how many labels sit under 1% of images).
 */
export interface LabelSummary {
  images: number;
  /** Distinct labels seen at least once. */
  labels_used: number;
  mean_labels_per_image: number;
  most_common_label: string | null;
  most_common_share: number;
  /** Labels present in more than 0 but fewer than 1% of images. */
  labels_under_1pct: number;
}

export class LabelCounter {
  readonly counts = new Map<string, number>();
  images = 0;
  private pairs = 0;

  /** Count one image's labels (duplicates within the image counted once). */
  add(labels: Iterable<string>): void {
    this.images++;
    for (const l of new Set(labels)) {
      this.counts.set(l, (this.counts.get(l) ?? 0) + 1);
      this.pairs++;
    }
  }

  /** Image-label pairs counted so far. */
  get truePairs(): number {
    return this.pairs;
  }

  count(label: string): number {
    return this.counts.get(label) ?? 0;
  }

  /** A new counter holding this one's images and `other`'s. */
  merged(other: LabelCounter): LabelCounter {
    const m = new LabelCounter();
    m.images = this.images + other.images;
    m.pairs = this.pairs + other.pairs;
    for (const src of [this.counts, other.counts])
      for (const [l, c] of src) m.counts.set(l, (m.counts.get(l) ?? 0) + c);
    return m;
  }

  summary(): LabelSummary {
    let top: string | null = null;
    let topCount = 0;
    let under = 0;
    for (const [l, c] of this.counts) {
      if (c > topCount) {
        top = l;
        topCount = c;
      }
      if (c < 0.01 * this.images) under++;
    }
    return {
      images: this.images,
      labels_used: this.counts.size,
      mean_labels_per_image: this.images ? this.pairs / this.images : 0,
      most_common_label: top,
      most_common_share: this.images ? topCount / this.images : 0,
      labels_under_1pct: under,
    };
  }
}
