return answer(entry, id, result)
