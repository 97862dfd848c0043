/** @peftkit/nn: Transformer encoder builder with named attachment points, task heads, and the program builder that assembles backbone, PEFT modules, head, loss and gradients into one graph. */
export {};
