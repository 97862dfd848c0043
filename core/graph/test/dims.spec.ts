import { expect } from 'chai';
import { addDim, broadcastShapes, dim, dimEquals, divDim, evalDim, mulDim, subDim } from '../src/index.js';

describe('symbolic dims', () => {
  it('canonicalises products and sums', () => {
    expect(dim('T*B')).to.equal('B*T');
    expect(dim('2+T')).to.equal('T+2');
    expect(dim('B*T-B*T+3')).to.equal(3);
    expect(dimEquals('B*4', '4*B')).to.equal(true);
  });
  it('multiplies, divides, adds and subtracts', () => {
    expect(mulDim('B', 'T')).to.equal('B*T');
    expect(mulDim(4, 'B')).to.equal('4*B');
    expect(mulDim('T+2', 'B')).to.equal('2*B+B*T');
    expect(divDim('B*T', 'T')).to.equal('B');
    expect(divDim('4*B*T', 2)).to.equal('2*B*T');
    expect(divDim('B*T+2*B', 'B')).to.equal('T+2');
    expect(divDim('B', 'T')).to.equal(undefined);
    expect(divDim(7, 2)).to.equal(undefined);
    expect(addDim('T', 8)).to.equal('T+8');
    expect(subDim('T+8', 'T')).to.equal(8);
  });
  it('broadcasts symbolically', () => {
    expect(broadcastShapes(['B', 1, 'T'], [4, 1])).to.deep.equal(['B', 4, 'T']);
    expect(broadcastShapes(['B'], ['T'])).to.equal(undefined);
  });
  it('evaluates under bindings', () => {
    expect(evalDim('B*T+2*B', { B: 3, T: 5 })).to.equal(21);
    expect(() => evalDim('B', {})).to.throw(/no value bound/);
  });
});
