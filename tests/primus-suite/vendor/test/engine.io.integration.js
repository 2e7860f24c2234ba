'use strict';

require('./transformer.base')('Engine.IO');
