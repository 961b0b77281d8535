-- How many words the page had in all, stop words included.
ALTER TABLE results ADD COLUMN total_words integer;
