// The embedders that ship with codesearch register themselves on import.
import './static.js';
