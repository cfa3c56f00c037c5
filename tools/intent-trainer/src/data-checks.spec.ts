import fc from 'fast-check';
import {
  countPerLabel,
  findExactDuplicates,
  findLabelNamesInText,
  findNearDuplicates,
  findThinLabels,
  findUnknownLabels,
  FourGramIndex,
  jaccard,
  normaliseForComparison,
} from './data-checks';
import type { Example } from './dataset';

const ex = (
  label: string,
  text: string,
  source = `${label}:${text}`,
): Example => ({ label, text, source });

/** Jaccard on plain string sets: the definition the indexed version must agree with. */
function referenceJaccard(a: string, b: string): number {
  const grams = (t: string): Set<string> => {
    const s = normaliseForComparison(t);
    if (s.length < 4) return new Set([s]);
    return new Set(
      Array.from({ length: s.length - 3 }, (_, i) => s.slice(i, i + 4)),
    );
  };
  const x = grams(a);
  const y = grams(b);
  const common = [...x].filter((g) => y.has(g)).length;
  return common / (x.size + y.size - common);
}

describe('normaliseForComparison', () => {
  it('lower-cases, collapses whitespace runs and trims', () => {
    expect(normaliseForComparison('  My\tCARD \n  is   late ')).toBe(
      'my card is late',
    );
  });
});

describe('FourGramIndex / jaccard', () => {
  it('gives 1 for texts that differ only in case and spacing', () => {
    const index = new FourGramIndex();
    expect(
      jaccard(
        index.gramSet('Where is my card'),
        index.gramSet('where  is MY card'),
      ),
    ).toBe(1);
  });

  it('treats a text shorter than four characters as one gram', () => {
    const index = new FourGramIndex();
    expect(index.gramSet('hi?')).toHaveLength(1);
    expect(jaccard(index.gramSet('hi?'), index.gramSet('HI?'))).toBe(1);
    expect(jaccard(index.gramSet('hi?'), index.gramSet('hi!'))).toBe(0);
  });

  it('matches the set definition of Jaccard', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        (a, b) => {
          const index = new FourGramIndex();
          expect(jaccard(index.gramSet(a), index.gramSet(b))).toBeCloseTo(
            referenceJaccard(a, b),
            12,
          );
        },
      ),
    );
  });
});

describe('findNearDuplicates', () => {
  it('finds a lightly edited copy and ignores unrelated texts', () => {
    const train = [
      ex('a', 'My card has not arrived yet, where is it?'),
      ex('b', 'How do I change my PIN?'),
    ];
    const validation = [
      ex('a', 'My card has not arrived yet. Where is it??'),
      ex('c', 'Is there a fee for top ups?'),
    ];
    const found = findNearDuplicates(train, validation, 0.7);
    expect(found).toHaveLength(1);
    expect(found[0].train).toBe(train[0]);
    expect(found[0].validation).toBe(validation[0]);
    expect(found[0].jaccard).toBeGreaterThanOrEqual(0.7);
  });

  it('returns exactly the pairs a brute-force scan over all pairs returns', () => {
    // Small alphabet so that random texts often overlap.
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', 'c', ' ', 'A'),
      maxLength: 14,
    });
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 12 }),
        fc.array(text, { maxLength: 12 }),
        (tr, va) => {
          const train = tr.map((t, i) => ex('x', t, `t${i}`));
          const validation = va.map((t, i) => ex('x', t, `v${i}`));
          const expected: string[] = [];
          for (const v of validation) {
            for (const t of train)
              if (referenceJaccard(t.text, v.text) >= 0.7)
                expected.push(`${v.source}-${t.source}`);
          }
          const got = findNearDuplicates(train, validation, 0.7).map(
            (p) => `${p.validation.source}-${p.train.source}`,
          );
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('label checks', () => {
  const labels = ['card_arrival', 'Refund_not_showing_up'];

  it('flags a label name written inside a text, in any case', () => {
    const leaks = findLabelNamesInText(
      [
        ex('card_arrival', 'is this CARD_ARRIVAL?'),
        ex('card_arrival', 'card arrival please'),
      ],
      labels,
    );
    expect(leaks.map((l) => l.label)).toEqual(['card_arrival']);
  });

  it('flags labels missing from labels.txt', () => {
    expect(
      findUnknownLabels(
        [ex('card_arrival', 'x'), ex('unknown', 'y')],
        labels,
      ).map((e) => e.label),
    ).toEqual(['unknown']);
  });

  it('counts per label and reports labels below a minimum, including absent ones', () => {
    const examples = [
      ex('card_arrival', 'a'),
      ex('card_arrival', 'b'),
      ex('Refund_not_showing_up', 'c'),
    ];
    expect([...countPerLabel(examples, labels)]).toEqual([
      ['card_arrival', 2],
      ['Refund_not_showing_up', 1],
    ]);
    expect(findThinLabels(examples, labels, 2)).toEqual([
      { label: 'Refund_not_showing_up', count: 1 },
    ]);
    expect(findThinLabels([], labels, 1)).toHaveLength(2);
  });
});

describe('findExactDuplicates', () => {
  it('groups texts equal up to case and whitespace, across splits', () => {
    const groups = findExactDuplicates([
      ex('a', 'Age limit?', 'train:1'),
      ex('a', 'age  limit?', 'validation:1'),
      ex('a', 'age limit', 'train:2'),
    ]);
    expect(groups.map((g) => g.map((e) => e.source))).toEqual([
      ['train:1', 'validation:1'],
    ]);
  });
});
