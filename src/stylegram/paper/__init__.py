"""The paper's figures: `reproduce` renders Fig. 1-3 cell by cell, `figures` lays the cells out with labels."""
