/** @peftkit/testing: Conformance test kit: mocha suites, one per extension point, that plugin authors run against their plugin; plus tiny fixture backbones and tasks. */
export {};
