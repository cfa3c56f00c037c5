import { join } from 'node:path';
import {
  findExactDuplicates,
  findLabelNamesInText,
  findNearDuplicates,
  findThinLabels,
  findUnknownLabels,
} from './data-checks';
import { readDataset } from './dataset';

// Checks on the shipped training data: each failure lists the offending lines.
const data = readDataset(join(__dirname, '..', 'data'));
const all = [...data.train, ...data.validation];

describe('intent training data', () => {
  it('has 77 distinct labels, none of them the unknown answer', () => {
    expect(data.labels).toHaveLength(77);
    expect(new Set(data.labels).size).toBe(77);
    expect(data.labels.map((l) => l.toLowerCase())).not.toContain('unknown');
  });

  it('uses only labels from labels.txt', () => {
    expect(
      findUnknownLabels(all, data.labels).map((e) => `${e.source}: ${e.label}`),
    ).toEqual([]);
  });

  it('has at least 60 training examples per label', () => {
    expect(findThinLabels(data.train, data.labels, 60)).toEqual([]);
  });

  it('has at least 15 validation examples per label', () => {
    expect(findThinLabels(data.validation, data.labels, 15)).toEqual([]);
  });

  it('has no exact duplicate texts (case and whitespace ignored) in or across splits', () => {
    const groups = findExactDuplicates(all).map((g) =>
      g.map((e) => e.source).join(' = '),
    );
    expect(groups).toEqual([]);
  });

  it('never names a label verbatim inside a text', () => {
    const leaks = findLabelNamesInText(all, data.labels).map(
      (x) => `${x.example.source}: ${x.label}`,
    );
    expect(leaks).toEqual([]);
  });

  it('has no train/validation pair with character 4-gram Jaccard >= 0.7', () => {
    const pairs = findNearDuplicates(data.train, data.validation, 0.7).map(
      (p) =>
        `${p.validation.source} "${p.validation.text}" ~ ${p.train.source} "${p.train.text}" (${p.jaccard.toFixed(3)})`,
    );
    expect(pairs).toEqual([]);
  });
});
