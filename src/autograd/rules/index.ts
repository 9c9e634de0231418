// Registers every gradient rule. Importing the autodiff imports this.
import './elementwise.ts';
import './matmul.ts';
import './reduce.ts';
import './softmax.ts';
import './shape.ts';
import './indexing.ts';
import './conv.ts';
import './pool.ts';
import './norm.ts';
