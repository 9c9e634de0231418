// The loss-spec language: what parses, and the errors that point at a column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLossSpec } from '../src/losses/loss_spec.ts';
import { LossgraphError } from '../src/errors.ts';

test('weighted sums, arguments and parameters parse', () => {
  const s = parseLossSpec('0.7*ce + 0.3*hierarchical(level=species)');
  assert.equal(s.head, 'logits');
  assert.deepEqual([...s.needs], ['hierarchy']);
  assert.deepEqual(parseLossSpec('w*ce + (1-w)*hierarchical').params, ['w']);
  assert.deepEqual(parseLossSpec('ce + alpha*gaussian_kl(sigma)').params, ['alpha', 'sigma']);
  assert.deepEqual(parseLossSpec('ce + 0.5*gaussian_kl(sigma=2*s0)').params, ['s0']);
  assert.deepEqual(parseLossSpec('-(-ce) / 2 + 1e-1 * mse(input=raw)').params, []);
  assert.equal(parseLossSpec('coral').head, 'thresholds');
  assert.equal(parseLossSpec('minmax(distance=l2)').head, 'embedding');
  assert.deepEqual(parseLossSpec('ce(reduction=sum, ignore_index=-1)').params, [], 'choice words are not parameters');
});

const errors: [string, RegExp][] = [
  ['ce + * 2', /unexpected '\*' at column 6/],
  ['ce + 0.5*gausian_kl(sigma=2)', /unknown loss 'gausian_kl' \(known losses: .*gaussian_kl.*\) at column 10/],
  ['cee', /unknown loss 'cee' \(known losses: bce, ce, coral, corn, focal, gaussian_kl, hierarchical, kl, l1, label_smoothing, minmax, mse, sparse_lsr\) at column 1/],
  ['ce + gaussian_kl(sigma=2', /expected '\)' but found 'end of spec' at column 25/],
  ['ce + gaussian_kl(sgima=2)', /'gaussian_kl' has no argument 'sgima' \(its arguments: sigma, reduction\) at column 18/],
  ['ce(reduction=avg)', /'reduction=avg' is not valid for 'ce'; choose one of: mean, sum at column 4/],
  ['ce(ignore_index=0.5)', /'ignore_index' of 'ce' must be an integer at column 4/],
  ['ce * mse', /two loss terms cannot be multiplied .* at column 4/],
  ['2 / ce', /cannot divide by a loss term at column 3/],
  ['ce + coral', /'coral' reads K-1 ordinal threshold logits but 'ce' reads K class logits; they cannot be combined at column 6/],
  ['ce + 3 $', /unexpected character '\$' at column 8/],
  ['gaussian_kl(1, sum, 2)', /'gaussian_kl' takes 2 argument\(s\) \(sigma, reduction\) at column 21/],
  ['ce(reduction=sum, reduction=mean)', /argument 'reduction' of 'ce' given twice at column 19/],
  ['1 + w', /unknown loss 'w' .* at column 5/],
  ['', /loss spec is empty/],
];

for (const [spec, message] of errors) {
  test(`'${spec}' is rejected with a pointed message`, () => {
    assert.throws(() => parseLossSpec(spec), (e: Error) => {
      assert.ok(e instanceof LossgraphError);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, message);
      return true;
    });
  });
}
