// Messages between the page and the fine-tuning worker, and what both read
// from the exported bundle's meta.json.
export {};
