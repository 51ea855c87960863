// An Express app as its users write it: herd runs it unmodified.
const express = require('express');

const app = express();
app.get('/', (req, res) => res.send(`express ${process.pid}\n`));
app.listen(Number(process.env.PORT), '127.0.0.1');
