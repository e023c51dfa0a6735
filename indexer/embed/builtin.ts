// The embedders that ship with codesearch register themselves on import.
import './static.js';
import './http.js';
import './transformers.js';
