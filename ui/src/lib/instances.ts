// Machine type list: grouping, search, default choice.

export interface InstanceLike {
  name: string;
  vcpus: number;
  memoryMib: number;
  gpuCount: number;
  gpuModel: string | null;
  category: string;
  /** An older generation (m1, m3, c3, …): hidden until "Show older types". */
  previousGeneration?: boolean;
  /** What a recommended type is good for (set on a few types only). */
  recommended?: string | null;
}

export const CATEGORY_ORDER = ['general', 'compute', 'memory', 'gpu', 'other'] as const;

export const CATEGORY_LABELS: Record<string, { title: string; help: string }> = {
  general: { title: 'General purpose', help: 'Balanced CPU and memory: a good start for most scripts.' },
  compute: { title: 'Compute optimised', help: 'More CPU per GiB of memory: CPU-heavy training.' },
  memory: { title: 'Memory optimised', help: 'More memory per CPU: large data sets in memory.' },
  gpu: { title: 'GPU', help: 'With NVIDIA GPUs: deep learning (PyTorch, TensorFlow). Costs more.' },
  other: { title: 'Other', help: 'Specialised machines.' },
};

export const PREFERRED_DEFAULTS = ['t3.medium', 't3.large', 'm5.large', 't3.small', 't2.medium'];

export interface InstanceGroup<T extends InstanceLike> {
  category: string;
  title: string;
  help: string;
  items: T[];
}

function naturalCompare(a: InstanceLike, b: InstanceLike): number {
  return a.vcpus - b.vcpus || a.memoryMib - b.memoryMib || a.name.localeCompare(b.name, 'en', { numeric: true });
}

export function matchesSearch(item: InstanceLike, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  const label = CATEGORY_LABELS[item.category]?.title ?? item.category;
  const hay = [item.name, item.gpuModel ?? '', label, `${item.vcpus} vcpu`, item.gpuCount > 0 ? 'gpu' : ''].join(' ').toLowerCase();
  return q.split(/\s+/).every((word) => hay.includes(word));
}

/** The few recommended types, in the order the backend gives them (one per need). */
export function recommendedTypes<T extends InstanceLike>(items: readonly T[]): T[] {
  return items.filter((i) => !!i.recommended);
}

/** How many older-generation types are hidden. */
export function olderCount(items: readonly InstanceLike[]): number {
  return items.filter((i) => i.previousGeneration).length;
}

export function groupInstances<T extends InstanceLike>(items: readonly T[], query = '', showOlder = true): InstanceGroup<T>[] {
  const groups: InstanceGroup<T>[] = [];
  if (!showOlder) items = items.filter((i) => !i.previousGeneration);
  const known = new Set<string>(CATEGORY_ORDER);
  for (const category of CATEGORY_ORDER) {
    const matching = items
      .filter((i) => (known.has(i.category) ? i.category : 'other') === category)
      .filter((i) => matchesSearch(i, query))
      .sort(naturalCompare);
    if (matching.length > 0) {
      const label = CATEGORY_LABELS[category] ?? { title: category, help: '' };
      groups.push({ category, title: label.title, help: label.help, items: matching });
    }
  }
  return groups;
}

export function defaultInstanceType(items: readonly InstanceLike[]): string {
  for (const name of PREFERRED_DEFAULTS) if (items.some((i) => i.name === name)) return name;
  const general = items.filter((i) => i.category === 'general').sort(naturalCompare);
  return general[0]?.name ?? [...items].sort(naturalCompare)[0]?.name ?? '';
}

/** The first SageMaker type of a training list: the first recommended one (the backend orders them by need), else the smallest general one. */
export function defaultTrainingType(items: readonly InstanceLike[]): string {
  return recommendedTypes(items)[0]?.name ?? defaultInstanceType(items);
}
