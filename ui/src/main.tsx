import { render } from 'preact';
import { App } from './app';
import './styles.css';

// The links MLflow's client prints (http://host/#/experiments/1/runs/abc)
// open the same page here.
if (window.location.hash.startsWith('#/')) {
  window.history.replaceState(null, '', window.location.hash.slice(1));
}

render(<App />, document.getElementById('app')!);
