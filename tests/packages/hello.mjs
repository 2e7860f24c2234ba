// hello.cjs's hello world through ESM named imports of the installed package.
import { Server, connect, version } from 'weft';
import weft from 'weft';
import hello from './hello.cjs';

if (weft.Server !== Server) throw new Error('the default export is not the CommonJS module');
hello({ Server, connect, version });
