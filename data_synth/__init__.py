"""data_synth: memory text -> training examples (QA, paraphrases, cloze, recitation). Never sees eval questions."""
