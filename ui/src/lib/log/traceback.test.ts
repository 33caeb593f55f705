import { describe, expect, it } from 'vitest';
import { describeFailingLine, failingLine, tracebackMarks, type TextLine } from './traceback';

const MODULE = `Epoch 1/10 loss=0.693
Traceback (most recent call last):
  File "/opt/easytdv/runs/r1/train.py", line 7, in <module>
    import six
ModuleNotFoundError: No module named 'six'`;

const LIBRARY = `Traceback (most recent call last):
  File "/opt/easytdv/run/train.py", line 42, in <module>
    model.fit(X, y)
  File "/opt/easytdv/venv/lib/python3.12/site-packages/sklearn/base.py", line 1151, in wrapper
    return fit_method(estimator, *args, **kwargs)
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: Input contains NaN, infinity or a value too large for dtype('float64').`;

const CHAINED = `Traceback (most recent call last):
  File "/x/train.py", line 3, in <module>
    d["k"]
KeyError: 'k'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/train.py", line 5, in <module>
    raise RuntimeError("no key")
RuntimeError: no key`;

const SYNTAX = `  File "/opt/easytdv/run/train.py", line 3
    print("x"
         ^
SyntaxError: '(' was never closed`;

describe('failingLine', () => {
  it('names the line of train.py and the error', () => {
    expect(describeFailingLine(failingLine(MODULE)!)).toBe("train.py line 7: ModuleNotFoundError: No module named 'six'");
  });
  it('points at train.py, not at the library that raised', () => {
    expect(failingLine(LIBRARY)).toEqual({
      file: 'train.py',
      line: 42,
      error: "ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
    });
  });
  it('takes the last of chained tracebacks', () => {
    expect(describeFailingLine(failingLine(CHAINED)!)).toBe('train.py line 5: RuntimeError: no key');
  });
  it('reads a syntax error, which has no Traceback line', () => {
    expect(describeFailingLine(failingLine(SYNTAX)!)).toBe("train.py line 3: SyntaxError: '(' was never closed");
  });
  it('a dotted exception name and a frame only in a library', () => {
    const t = `Traceback (most recent call last):\n  File "/usr/lib/python3.12/site-packages/torch/x.py", line 9, in f\n    y()\ntorch.cuda.OutOfMemoryError: CUDA out of memory.`;
    expect(describeFailingLine(failingLine(t)!)).toBe('x.py line 9: torch.cuda.OutOfMemoryError: CUDA out of memory.');
  });
  it('null without a traceback', () => {
    expect(failingLine('ERROR: No matching distribution found for tensorflw')).toBeNull();
    expect(failingLine('')).toBeNull();
  });
});

describe('tracebackMarks', () => {
  it('marks from the Traceback line to the exception line', () => {
    const lines: TextLine[] = MODULE.split('\n').map((text) => ({ text, stream: 'err' }));
    lines[0] = { text: 'Epoch 1/10 loss=0.693', stream: 'out' };
    expect(tracebackMarks(lines)).toEqual([null, 'head', 'frame', 'frame', 'end']);
  });
  it('leaves the other stream alone inside a traceback, and each chained traceback is its own', () => {
    const lines = [
      { text: 'Traceback (most recent call last):', stream: 'err' as const },
      { text: 'epoch 3 loss 0.2', stream: 'out' as const },
      { text: '  File "train.py", line 1, in <module>', stream: 'err' as const },
      { text: 'KeyError: 1', stream: 'err' as const },
      { text: 'During handling of the above exception, another exception occurred:', stream: 'err' as const },
    ];
    expect(tracebackMarks(lines)).toEqual(['head', null, 'frame', 'end', null]);
  });
  it('does not guess across lines it does not have', () => {
    expect(tracebackMarks([{ text: 'Traceback (most recent call last):' }, undefined, { text: 'ValueError: x' }])).toEqual([
      'head',
      null,
      null,
    ]);
  });
});
