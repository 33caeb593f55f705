import { describe, expect, it } from 'vitest';
import { highestMachine, machineOf, MachineIndex, withoutMachine } from './machines';

const lines = (...texts: string[]) => texts.map((text) => ({ text }));

describe('machines of a training log', () => {
  it('tells the machine of a line from its [algo-N] prefix; unprefixed lines are machine 1', () => {
    expect(machineOf('epoch 1 loss 0.3')).toBe(1);
    expect(machineOf('[algo-2] epoch 3 loss 0.1')).toBe(2);
    expect(machineOf('[algo-12] x')).toBe(12);
    expect(machineOf('[algo-1] x')).toBe(1);
    // Not a prefix: no space after it, or not at the start.
    expect(machineOf('[algo-2]x')).toBe(1);
    expect(machineOf('loss [algo-2] x')).toBe(1);
    expect(machineOf('[INFO] starting')).toBe(1);
    expect(machineOf('')).toBe(1);
  });

  it('shows a line without its prefix', () => {
    expect(withoutMachine('[algo-2] epoch 3 loss 0.1')).toBe('epoch 3 loss 0.1');
    expect(withoutMachine('epoch 3')).toBe('epoch 3');
    expect(withoutMachine('[INFO] x')).toBe('[INFO] x');
    expect(withoutMachine('[algo-3] ')).toBe('');
  });

  it('finds the highest machine among lines', () => {
    expect(highestMachine(lines('a', 'b'))).toBe(1);
    expect(highestMachine([...lines('a', '[algo-3] c', '[algo-2] b'), undefined])).toBe(3);
  });

  it('indexes the lines of each machine, in order, from the start of the log', () => {
    const ix = new MachineIndex();
    expect(ix.add(0, lines('one', '[algo-2] two', 'three', '[algo-2] four'))).toBe(true);
    expect(ix.scanned).toBe(4);
    expect(ix.machines).toEqual([1, 2]);
    expect(ix.count(1)).toBe(2);
    expect(ix.count(2)).toBe(2);
    expect(ix.count(3)).toBe(0);
    expect([ix.line(2, 0), ix.line(2, 1), ix.line(2, 2)]).toEqual([1, 3, undefined]);
    expect(ix.position(2, 3)).toBe(1);
    expect(ix.position(2, 2)).toBeNull();
    expect(ix.positionFrom(2, 2)).toBe(1);
    expect(ix.positionFrom(2, 9)).toBe(2);
    expect(ix.positionFrom(1, 0)).toBe(0);
  });

  it('takes lines that follow (or overlap) what it holds, not those after a gap', () => {
    const ix = new MachineIndex();
    ix.add(0, lines('a', 'b'));
    expect(ix.add(5, lines('[algo-2] f'))).toBe(false);
    expect(ix.scanned).toBe(2);
    // Overlapping: lines already indexed are not counted twice.
    expect(ix.add(1, lines('b', '[algo-2] c', 'd'))).toBe(true);
    expect(ix.scanned).toBe(4);
    expect(ix.count(1)).toBe(3);
    expect(ix.line(2, 0)).toBe(2);
    ix.reset();
    expect(ix.scanned).toBe(0);
    expect(ix.machines).toEqual([]);
  });

  it('holds a million lines', () => {
    const ix = new MachineIndex();
    const chunk = Array.from({ length: 5000 }, (_, i) => ({ text: i % 4 === 1 ? '[algo-2] step' : 'step' }));
    for (let from = 0; from < 1_000_000; from += chunk.length) ix.add(from, chunk);
    expect(ix.count(2)).toBe(250_000);
    expect(ix.count(1)).toBe(750_000);
    expect(ix.line(2, 249_999)).toBe(999_997);
    expect(ix.position(2, 999_997)).toBe(249_999);
  });
});
