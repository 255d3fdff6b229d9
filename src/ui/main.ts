/** The page's entry point (index.html loads it): builds the host client on #app. */
import './styles.css';
import { App } from './app.ts';

declare global {
  interface Window {
    /** The running host client, for the browser console and the end-to-end tests. */
    visor86?: App;
  }
}

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
window.visor86 = new App(root);
