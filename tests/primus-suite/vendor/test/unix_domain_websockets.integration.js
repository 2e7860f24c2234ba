'use strict';

require('./transformer.base')('WebSockets', 'UnixDomainWebSockets');
