/** __PACKAGE__: the __KIND__ `__NAME__`, written against @peftkit/api only. */
export * from './__NAME__.js';
